

# dynamo's recompile limits (renamed in torch 2.6).
RECOMPILE_LIMITS = (
    "recompile_limit",
    "accumulated_recompile_limit",
    "cache_size_limit",
    "accumulated_cache_size_limit",
)


def compile_model(model: nn.Module) -> nn.Module:
    """Compile `model` in place, regionally: each of its 5 distinct blocks is compiled
    once and its identical copies reuse that graph; the stem and the head stay eager.
    """
    # All blocks share one code object's cache: leave room for every distinct block.
    config = torch._dynamo.config
    for name in RECOMPILE_LIMITS:
        if hasattr(config, name):
            setattr(config, name, max(getattr(config, name), 40))
    done: list[str] = []
    for path, module in model.named_modules():
        if isinstance(module, (Basic,)) and not any(path.startswith(p + ".") for p in done):
            module.compile(dynamic=False, mode="max-autotune-no-cudagraphs")
            done.append(path)
    return model
