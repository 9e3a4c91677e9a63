from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from b12clinic.startup import require_secret_key

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "b12clinic.settings")

application = get_wsgi_application()
require_secret_key()
