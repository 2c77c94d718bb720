from .dsrl_encoder_decoder import DSRLEncoderDecoder
from .lr_input_encoder_decoder import LRInputEncoderDecoder

__all__ = ['DSRLEncoderDecoder', 'LRInputEncoderDecoder']
