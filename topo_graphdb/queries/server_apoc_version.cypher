// The APOC plugin's version; an error when the plugin is not loaded.
RETURN apoc.version()
