import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# The web server pools its database connections (see DATABASE_POOL_MAX in config/settings.py).
os.environ.setdefault("DATABASE_POOL_MAX", "20")
application = get_asgi_application()
