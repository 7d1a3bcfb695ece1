"""A Gradio app's answer read into an Outcome: the output the profile names, the words a service said instead of
an image, the image downloaded under the call's own deadline (a file answer with no URL from the endpoint's own
file route). The answer is untrusted: `services.answer` reads it, `vton_eval.http_fetch` downloads it."""

from __future__ import annotations

import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

from vton_eval.http_fetch import Fetcher, FetchRefused, FetchStopped, FetchTimeout
from vton_eval.outcome import Outcome
from vton_eval.secrets import clean_message
from vton_eval.services.answer import MAX_OUTPUT_BYTES, BadAnswer, answer_image, image_size
from vton_eval.services.classify import classify_exception, classify_message, retry_after_s
from vton_eval.services.gradio_call import GradioCall


def elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


@dataclass(frozen=True)
class AnswerReading:
    """How one call's answer is read: the call's shape, how many outputs the endpoint declares (None: unknown),
    and the download's fetcher, deadline and stop."""

    shape: GradioCall
    outputs: int | None
    profile_name: str
    fetcher: Fetcher
    deadline: float
    stop: threading.Event | None
    timeout_s: float
    root: str  # the endpoint's root on its own origin, where its file route lives

    def outcome(self, value: Any, started: float, queue_ms: float | None) -> Outcome:
        def fetch(url: str) -> bytes:
            return self.fetcher.fetch(url, MAX_OUTPUT_BYTES, deadline=self.deadline, stop=self.stop)

        def file_url(path: str) -> str:
            # The app's own file route, under the root the connection kept on the endpoint's origin (gradio_client's
            # URL for a file answer); the path is quoted, so it cannot leave that route.
            return f"{self.root}file={urllib.parse.quote(path, safe='/')}"

        try:
            picked = self.pick(value)
            if _empty(picked) and self.shape.message_output is not None:
                said = self.said(value)
                if said:  # the service said in words why no image came back (Kolors: "Too many users...")
                    kind = classify_message(said)
                    message = clean_message(said) or kind
                    retry = retry_after_s(message) if kind == "rate_limited" else None
                    return Outcome.error(kind, message, elapsed_ms(started), queue_ms, retry)
            data = answer_image(picked, fetch, file_url)
            width, height = image_size(data)
        except (BadAnswer, FetchRefused) as exc:
            return Outcome.error("bad_output", clean_message(str(exc)) or "bad output", elapsed_ms(started), queue_ms)
        except FetchTimeout:
            return Outcome.error("timeout", f"no answer within {self.timeout_s:g} s (the download of the output was "
                                 "still running)", elapsed_ms(started), queue_ms)
        except FetchStopped:
            return Outcome.error("cancelled", "the run was stopped during the download of the output",
                                 elapsed_ms(started), queue_ms)
        except Exception as exc:
            kind, message = classify_exception(exc)
            return Outcome.error(kind, f"downloading the output failed: {clean_message(message)}",
                                 elapsed_ms(started), queue_ms)
        return Outcome.ok(data, width, height, elapsed_ms(started), queue_ms)

    def pick(self, value: Any) -> Any:
        """The output the profile names. gradio_client returns one output as itself and several as a tuple."""
        several = self.outputs > 1 if self.outputs is not None else isinstance(value, tuple)
        if not several:
            return value
        if not isinstance(value, tuple | list) or len(value) <= self.shape.output:
            count = len(value) if isinstance(value, tuple | list) else 1
            raise BadAnswer(f"the service returned {count} output(s); the profile {self.profile_name} reads output "
                            f"{self.shape.output}")
        return value[self.shape.output]

    def said(self, value: Any) -> str | None:
        """The text output the profile names, when the service put words there."""
        index = self.shape.message_output
        if index is None or not isinstance(value, tuple | list) or len(value) <= index:
            return None
        said = value[index]
        return said.strip() if isinstance(said, str) and said.strip() else None


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | tuple | dict) and not value)
