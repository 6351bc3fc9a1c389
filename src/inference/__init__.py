"""Running a trained network on audio: checkpoint, MINDIR or ONNX Runtime predictors, transcription of files, sox audio streaming."""
