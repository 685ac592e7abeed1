"""FCM through firebase-admin: client construction (endpoint, credentials, transport) and plain send results."""
