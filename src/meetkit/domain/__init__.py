"""Pure rules of the meeting domain: no I/O, no imports from storage, api, signalling, media or worker."""
