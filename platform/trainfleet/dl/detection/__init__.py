"""Object detection (notes L6686-6741, L7140-7156): box geometry, the COCO mAP, the detectors' shared decoding."""
