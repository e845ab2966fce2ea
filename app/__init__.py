"""Photo Uploader: collection photos and their thumbnails to an S3 bucket."""

__version__ = "0.1.0"
APP_NAME = "Photo Uploader"
