"""The Bucket tab: what the destination holds (app.ui.bucket.page composes it)."""
