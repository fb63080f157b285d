"""Where networks run: onnxruntime on the CPU (this package), HailoRT on a Hailo (backends/hailo.py)."""
