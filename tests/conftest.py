from tests.gcs_emulator import gcs_bucket, gcs_emulator  # noqa: F401  (shared fixtures, one emulator per session)
