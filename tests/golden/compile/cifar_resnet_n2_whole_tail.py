

def compile_model(model: nn.Module) -> nn.Module:
    """Compile `model` in place as one graph (fullgraph: a graph break is an error)."""
    import sys

    # On the CPU inductor computes convolutions in channels_last: keep the weights, and so the
    # activations between compiled graphs, in that layout instead of converting on every call.
    if torch.backends.mkldnn.is_available() and all(p.device.type == "cpu" for p in model.parameters()):
        model.to(memory_format=torch.channels_last)

    # Inductor walks the graph recursively: room for this network's depth.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 560))
    model.compile(fullgraph=True, dynamic=False)
    return model
