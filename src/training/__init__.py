"""Network + batches -> loss -> optimiser -> checkpoints: the loop in named steps, one train step, LR schedules, the non-finite guard, the run log."""
