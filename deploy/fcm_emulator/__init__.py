"""A local FCM HTTP v1 emulator for Herald's dev stack, tests and benchmarks (``python -m deploy.fcm_emulator``)."""
