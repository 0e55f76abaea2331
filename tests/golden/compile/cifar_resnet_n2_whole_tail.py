

def compile_model(model: nn.Module, **options) -> nn.Module:
    """Compile `model` in place as one graph (fullgraph: a graph break is an error);
    `options` go to torch.compile."""
    import sys

    options = {"dynamic": False} | options
    # On the CPU inductor computes convolutions in channels_last: keep the weights, and so the
    # activations between compiled graphs, in that layout instead of converting on every call.
    on_cpu = all(p.device.type == "cpu" for p in model.parameters())
    if options.get("backend", "inductor") == "inductor" and torch.backends.mkldnn.is_available() and on_cpu:
        model.to(memory_format=torch.channels_last)

    # Inductor walks the graph recursively: room for this network's depth.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 560))
    model.compile(fullgraph=True, **options)
    return model
