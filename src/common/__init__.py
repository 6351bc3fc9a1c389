"""What every stage shares: user-facing errors and the one CLI wrapper, atomic file writes, signals, device and distributed set-up."""
