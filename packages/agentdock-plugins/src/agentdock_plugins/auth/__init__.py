"""Built-in plugin: auth providers for the Dockfile's auth modes (jwt, api_key, oauth2)."""
