"""The one configuration schema (every key's default, help line and range), its validation and the --key overrides."""
