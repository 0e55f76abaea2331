

# dynamo's recompile limits (renamed in torch 2.6).
RECOMPILE_LIMITS = (
    "recompile_limit",
    "accumulated_recompile_limit",
    "cache_size_limit",
    "accumulated_cache_size_limit",
)


def compile_model(model: nn.Module, **options) -> nn.Module:
    """Compile `model` in place, regionally: each of its 5 distinct blocks is compiled
    once and its identical copies reuse that graph; the statements before the first block
    (the stem) and after the last (the head) are compiled as regions of their own.
    `options` go to torch.compile.
    """

    def regional_forward(root, blocks):
        """`root`'s forward cut at its blocks: a torch.fx GraphModule that runs it, and its regions.

        The forward is traced with each block, and each module holding no block, as one call (the
        containers of blocks are traced through). Every maximal run of statements between two block
        calls, the stem before the first block and the head after the last, becomes a region: a
        GraphModule calling `root`'s own modules, to compile as one graph. Self-contained (torch
        only): `resdsl build --compile regional` copies it into the generated file.
        """
        import operator

        import torch.fx as fx

        blocks = set(blocks)

        class Tracer(fx.Tracer):
            def is_leaf_module(self, module, name):
                return name in blocks or not any(b.startswith(name + ".") for b in blocks)

        def is_block(node):
            return node.op == "call_module" and node.target in blocks

        graph = Tracer().trace(root)
        runs, run = {}, None  # first statement -> its run
        for node in graph.nodes:
            if node.op in ("placeholder", "output") or is_block(node):
                run = None
            elif run is None:
                run = runs[node] = [node]
            else:
                run.append(node)
        outer, env, members, regions = fx.Graph(), {}, {}, []
        for node in graph.nodes:
            if node in runs:
                inside = set(runs[node])
                inputs = list(dict.fromkeys(i for n in runs[node] for i in n.all_input_nodes if i not in inside))
                outputs = [n for n in runs[node] if any(user not in inside for user in n.users)]
                sub = fx.Graph()
                local = {i: sub.placeholder(i.name) for i in inputs}
                for n in runs[node]:
                    local[n] = sub.node_copy(n, local.__getitem__)
                sub.output(local[outputs[0]] if len(outputs) == 1 else tuple(local[o] for o in outputs))
                name = f"region{len(regions)}"
                members[name] = fx.GraphModule(root, sub, class_name=f"Region{len(regions)}")
                regions.append(members[name])
                result = outer.call_module(name, tuple(env[i] for i in inputs))
                for k, o in enumerate(outputs):
                    env[o] = result if len(outputs) == 1 else outer.call_function(operator.getitem, (result, k))
            elif is_block(node) or node.op in ("placeholder", "output"):
                if is_block(node):
                    members[node.target] = root.get_submodule(node.target)
                env[node] = outer.node_copy(node, env.__getitem__)
        return fx.GraphModule(members, outer, class_name="RegionalForward"), regions

    options = {"dynamic": False, "mode": "max-autotune-no-cudagraphs"} | options
    # On the CPU inductor computes convolutions in channels_last: keep the weights, and so the
    # activations between compiled graphs, in that layout instead of converting on every call.
    on_cpu = all(p.device.type == "cpu" for p in model.parameters())
    if options.get("backend", "inductor") == "inductor" and torch.backends.mkldnn.is_available() and on_cpu:
        model.to(memory_format=torch.channels_last)

    blocks: list[str] = []  # the outermost blocks
    for path, module in model.named_modules():
        if isinstance(module, (Basic,)) and not any(path.startswith(p + ".") for p in blocks):
            blocks.append(path)
    forward, regions = regional_forward(model, blocks)
    # All regions share one code object's cache: leave room for each.
    limit = (5 + len(regions)) * 8
    config = torch._dynamo.config
    for name in RECOMPILE_LIMITS:
        if hasattr(config, name):
            setattr(config, name, max(getattr(config, name), limit))
    for path in blocks:
        model.get_submodule(path).compile(**options)
    for region in regions:
        region.compile(**options)
    model.forward = forward.forward
    return model
