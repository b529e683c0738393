"""Provider adapters, one package per provider type, imported only when a request needs one."""
