"""No models: roles are Django groups (see roles.py).

This module exists so that Django sends this app's post_migrate signal (it skips apps without a
models module), which grants each role the permissions of models added by later migrations.
"""
