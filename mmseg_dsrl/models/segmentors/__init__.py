from .dsrl_encoder_decoder import DSRLEncoderDecoder
from .icnet_segmentor import ICNetSegmentor
from .lr_input_encoder_decoder import LRInputEncoderDecoder

__all__ = ['DSRLEncoderDecoder', 'ICNetSegmentor', 'LRInputEncoderDecoder']
