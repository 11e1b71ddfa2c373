"""``python -m planner``: the same as the ``planner`` command."""

from planner.cli.app import main

main()
