"""One rank of the DDP-equivalence test (run by torch.distributed.run).

Builds the tiny DSRL model with a fixed seed (the same weights on every
rank), takes this rank's half of the fixed batch, runs one DDP forward /
backward on CPU (gloo) with BatchNorm in eval mode, and rank 0 saves the
all-reduced losses and the synchronised gradients to ``argv[1]``.
"""
import sys

import torch
import torch.distributed as dist

# Run as a script: its folder (tests/) is on sys.path, so the helpers import.
from dsrl_ddp_reference import (BATCH, build_model, fixed_batch,
                                losses_and_grads)


def main() -> None:
    dist.init_process_group('gloo')
    rank, world = dist.get_rank(), dist.get_world_size()
    model = build_model()
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    inputs, samples = fixed_batch()
    per_rank = BATCH // world
    part = slice(rank * per_rank, (rank + 1) * per_rank)
    losses, grads = losses_and_grads(ddp, inputs[part], samples[part])
    for value in losses.values():
        dist.all_reduce(value)
        value /= world
    if rank == 0:
        torch.save(dict(losses=losses, grads=grads), sys.argv[1])
    # Both ranks leave together: a rank tearing gloo down while the other
    # still uses it aborted the process now and then (std::terminate).
    dist.barrier()
    dist.destroy_process_group()


if __name__ == '__main__':
    main()
