from django.apps import AppConfig


class RoyaltiesConfig(AppConfig):
    name = "royalties"
