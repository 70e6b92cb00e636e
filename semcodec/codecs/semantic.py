"""What the semantic codecs share: readiness from their components, text streams, caching.

A semantic codec's transmitter analysis (segmentation, captions) does not depend on the SNR,
so it is cached per image (and codec configuration, fixed per instance): an SNR sweep runs the
captioner once per image. Text streams are orthogonal QPSK streams (see
:class:`semcodec.links.text.TextLink`); their lengths ride in the header (16 bits each).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ..codec import Codec, Option
from ..errors import InvalidInput
from ..schema import Int, MapOf, Str
from ..signal import Stream

if TYPE_CHECKING:
    from torch import Tensor

    from ..signal import Received

#: A text stream's header field: its length in characters (the text link's field).
TEXT_LENGTH_BITS = 16
#: Text lengths in a header: 16 bits each, per named text stream.
TEXT_LENGTHS = MapOf(Int(0, 2**16 - 1), max_len=64, key=Str(32, pattern=r"[a-z]+_[0-9]{1,2}"))
#: The text link's FEC choices (kept here so that codec modules import no torch).
FEC_CHOICES = ("none", "ldpc")


class SemanticCodec(Codec):
    """Base class of the vision-language codecs. Subclasses list their ``components``."""

    kind = "semantic"
    rate = "variable"  # caption lengths decide the channel uses
    components: ClassVar[tuple[str, ...]] = ()
    options: ClassVar[dict[str, Any]] = {
        "text_fec": Option("none", "protect the text streams (the letter sends them uncoded)", choices=FEC_CHOICES,
                           flag=True),
        "steps": Option(30, "diffusion steps", min=1, max=1000),
        "guidance": Option(7.5, "classifier-free guidance scale", min=0.0, max=100.0),
        "resolution": Option(512, "generation resolution (px)", min=64, max=2048),
        "gen_seed": Option(0, "seed of the generator's noise", min=0, max=2**63 - 1),
        "max_new_tokens": Option(64, "caption length limit (tokens)", min=1, max=1024),
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        if self.opts["text_fec"] not in FEC_CHOICES:
            raise InvalidInput(f"text_fec must be one of {', '.join(FEC_CHOICES)}")
        self._analysis: dict[str, Any] = {}

    def text_link(self):
        """The link every text stream of this codec goes through."""
        from ..links.text import TextLink

        return TextLink(str(self.opts["text_fec"]))

    @classmethod
    def readiness(cls) -> tuple[bool, str]:
        from ..extras import SEMANTIC, missing_reason
        from ..models.source import component, locate, looks_local, model_id
        from ..models.source import missing_reason as model_missing

        no_extra = missing_reason(SEMANTIC, cls.name)
        if no_extra:
            return False, no_extra

        missing = [key for key in cls.components if locate(key) is None]
        if not missing:
            return True, ""
        for key in missing:  # a folder the user named: say what is wrong with it, not "pull it"
            if looks_local(model_id(key)):
                return False, model_missing(key, cls.name) or ""
        listed = ", ".join(f"{key} ({model_id(key)})" for key in missing)
        envs = ", ".join(component(key).env for key in missing)
        return False, (f"weights not on this machine: {listed}; run `semcodec models pull {cls.name}` "
                       f"with internet access, or point {envs} at local folders")

    def provenance_device(self) -> tuple[str, str]:
        from ..models.source import best_device, dtype_for

        device = best_device(self.device)
        return device, str(dtype_for(device)).replace("torch.", "")

    def analysed(self, image: "Tensor", analyse) -> Any:
        """``analyse(image)`` once per distinct image (the SNR-independent transmitter work)."""
        from ..imageio import image_key

        key = image_key(image)
        if key not in self._analysis:
            self._analysis[key] = analyse(image)
        return self._analysis[key]

    # -- text streams ----------------------------------------------------------------------
    def text_streams(self, texts: dict[str, str]) -> tuple[dict[str, Stream], dict[str, int], dict[str, str]]:
        """Texts -> (streams, header lengths, the texts as actually sent)."""
        link = self.text_link()
        streams, lengths, sent = {}, {}, {}
        for name, text in texts.items():
            tx = link.transmit(text)
            streams[name], lengths[name] = tx.stream, tx.header["length"]
            sent[name] = link.prepare(text)
        return streams, lengths, sent

    def expected_streams(self, header: dict) -> dict[str, int | None]:
        """One QPSK stream per text, of the length its character count implies."""
        link = self.text_link()
        return {name: link.symbols_for(n) for name, n in header["text_lengths"].items()}

    def received_texts(self, received: "Received") -> dict[str, str]:
        link = self.text_link()
        return {name: link.receive(received.streams[name], {"length": n_chars})
                for name, n_chars in received.header["text_lengths"].items()}

    def generator(self, ip_adapter: bool):
        from ..models.generator import Generator

        return Generator(device=self.device, ip_adapter=ip_adapter, ip_scale=float(self.opts.get("ip_scale", 0.6)),
                         steps=int(self.opts["steps"]), guidance=float(self.opts["guidance"]),
                         resolution=int(self.opts["resolution"]), codec=self.name)
