"""Network probabilities -> text: one Decoder interface (greedy; beam search with a KenLM n-gram LM), LM estimation, word timestamps."""
