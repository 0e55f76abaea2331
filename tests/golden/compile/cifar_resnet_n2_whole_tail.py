

def compile_model(model: nn.Module) -> nn.Module:
    """Compile `model` in place as one graph (fullgraph: a graph break is an error)."""
    import sys

    # Inductor walks the graph recursively: room for this network's depth.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 560))
    model.compile(fullgraph=True, dynamic=False)
    return model
