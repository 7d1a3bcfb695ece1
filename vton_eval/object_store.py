"""Image files in S3-compatible storage, through obstore (the Rust `object_store` crate's binding).

Endpoint and keys come from the usual variables (AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_S3,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_SESSION_TOKEN); a plain-http endpoint (a
local MinIO or moto) is allowed when the endpoint says http://. Every request has a deadline. Keys are
paths relative to the store's `data_path`, as the database keeps them.
"""

from __future__ import annotations

import os

from vton_eval.errors import VtonEvalError
from vton_eval.secrets import redact

REQUEST_TIMEOUT = "60s"


class ObjectStoreError(VtonEvalError):
    """The S3-compatible storage refused or could not be reached."""


class RemoteObjects:
    def __init__(self, data_path: str) -> None:
        from obstore.store import from_url

        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        config = {"endpoint": endpoint} if endpoint else {}
        options = {"timeout": REQUEST_TIMEOUT, "connect_timeout": "10s",
                   "allow_http": bool(endpoint and endpoint.startswith("http://"))}
        self.url = data_path.rstrip("/")
        self._store = from_url(self.url, config=config, client_options=options)

    def __repr__(self) -> str:
        return f"RemoteObjects({self.url!r})"

    def get(self, key: str) -> bytes | None:
        """The object's bytes; None when there is no such object."""
        import obstore

        try:
            return bytes(obstore.get(self._store, key).bytes())
        except FileNotFoundError:
            return None
        except Exception as exc:  # obstore's errors: network, permissions
            raise ObjectStoreError(f"cannot read {key} from {self.url}: {redact(str(exc))}") from None

    def put(self, key: str, data: bytes) -> None:
        """Write once: an object already there (same name, same content) is left as it is."""
        import obstore
        from obstore.exceptions import AlreadyExistsError

        try:
            obstore.put(self._store, key, data, mode="create")
        except AlreadyExistsError:
            pass
        except Exception as exc:
            raise ObjectStoreError(f"cannot write {key} to {self.url}: {redact(str(exc))}") from None

    def exists(self, key: str) -> bool:
        import obstore

        try:
            obstore.head(self._store, key)
            return True
        except FileNotFoundError:
            return False
        except Exception as exc:
            raise ObjectStoreError(f"cannot reach {self.url}: {redact(str(exc))}") from None

    def keys(self, prefix: str) -> list[str]:
        import obstore

        try:
            return [meta["path"] for batch in obstore.list(self._store, prefix=prefix) for meta in batch]
        except Exception as exc:
            raise ObjectStoreError(f"cannot list {self.url}: {redact(str(exc))}") from None
