"""The generated admin: one screen per table, grouped like the spec's sidebar."""


def init_admin(app):
    from admin_views.registry import build_admin

    return build_admin(app)
