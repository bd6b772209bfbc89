"""The benchmarks behind ``keras-gan bench NAME``, one module each."""


def runnable_variants(configs):
    """The variants this process's Keras backend can train, and why the others cannot.

    A line per skipped variant is printed; the benchmarks record the reasons in their JSON.

    Args:
        configs: ``{variant: Config}``, in the order to run.

    Returns:
        ``(names, skipped)``: the runnable names in order, and ``{name: reason}`` for the rest
        (:func:`keras_gan.training.plan.backend_refusal`).

    Raises:
        UsageError: if none of them runs on this backend.
    """
    import keras

    from keras_gan.errors import UsageError
    from keras_gan.training import plan

    backend = keras.backend.backend()
    reasons = {name: plan.backend_refusal(cfg, backend) for name, cfg in configs.items()}
    skipped = {name: why for name, why in reasons.items() if why}
    for name, why in skipped.items():
        print(f"skipped {name}: {why}", flush=True)
    names = [name for name in configs if name not in skipped]
    if not names:
        raise UsageError(f"no variant of --variants runs on the {backend} backend.")
    return names, skipped
