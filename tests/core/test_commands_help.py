"""Every option of every platform command says what it does (`manage.py CMD --help`)."""

from django.core.management import get_commands, load_command_class


def test_every_command_option_has_help():
    ours = {"core", "royalties", "ingestion", "streams", "webhooks", "analytics"}
    commands = {name: app for name, app in get_commands().items() if app in ours}
    assert {"start", "consolidate_royalties", "send_events", "import_viewers"} <= set(commands)
    for name, app in commands.items():
        parser = load_command_class(app, name).create_parser("manage.py", name)
        for action in parser._actions:
            if action.dest in ("help", "version") or action.default == "==SUPPRESS==":
                continue
            assert action.help, (name, action.dest)
