from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

from b12clinic.startup import require_secret_key

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "b12clinic.settings")

application = get_asgi_application()
require_secret_key()
