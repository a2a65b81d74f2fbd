"""gnosis-ocr core: knows nothing of Flask or CloudEvents."""
