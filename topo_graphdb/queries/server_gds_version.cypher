// The Graph Data Science plugin's version; an error when the plugin is not loaded.
RETURN gds.version()
