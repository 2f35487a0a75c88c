"""Is the tuned model better? Generations of the systems compared, blind review, and the statistics of votes."""
