"""One optimisation step as a single graph: loss, gradients, clipping, update.

Fixes the zoo's silent training bugs in one place: the learning-rate array is the optimiser's
own (indexed by its global step, saved in checkpoints); ``loss_scale`` scales the loss *and*
unscales the gradients (the zoo only divided the gradients by 1024); weight decay and global-norm
clipping are applied when configured. A step whose gradients are not finite is not applied.

Gradient accumulation (``accum_grad`` > 1) splits that step in two graphs: one per micro-batch that adds
its gradients to ``accum.*`` buffers, and one, independent of the batch's shape, that averages them into
a single update. So an effective batch of ``accum_grad x batch_size`` needs only one micro-batch's graph
memory; the buffers are checkpointed, so a run stopped between updates resumes exactly.
"""
import mindspore as ms
from mindspore import Tensor, nn, ops
from mindspore.context import ParallelMode
from mindspore.parallel._utils import _get_device_num, _get_gradients_mean, _get_parallel_mode

from src.config.schema import OPTIMIZERS
from src.model.deepspeech2 import NetWithLoss


def build_optimizer(network: nn.Cell, optim_cfg, lr) -> nn.Optimizer:
    """The configured optimiser over ``network``'s trainable parameters, with a per-step LR array."""
    name = str(optim_cfg.optimizer).lower()
    if name not in OPTIMIZERS:
        raise ValueError(f"OptimConfig.optimizer {name!r}: choose one of {', '.join(OPTIMIZERS)}")
    weight_decay = float(optim_cfg.weight_decay)
    if weight_decay < 0:
        raise ValueError(f"OptimConfig.weight_decay must be >= 0, got {weight_decay}")
    params = network.trainable_params()
    # Decay the weight matrices only, not batch-norm scales/shifts or biases.
    decay = [p for p in params if len(p.shape) > 1]
    no_decay = [p for p in params if len(p.shape) <= 1]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    lr = Tensor(lr, ms.float32)
    beta1, beta2 = (float(b) for b in optim_cfg.betas)
    if name == "adam":
        return nn.Adam(groups, learning_rate=lr, beta1=beta1, beta2=beta2, eps=float(optim_cfg.epsilon))
    if name == "adamw":
        return nn.AdamWeightDecay(groups, learning_rate=lr, beta1=beta1, beta2=beta2, eps=float(optim_cfg.epsilon))
    return nn.SGD(groups, learning_rate=lr, momentum=float(optim_cfg.momentum), nesterov=True)


def build_train_step(network: nn.Cell, optim_cfg, lr) -> "TrainStep":
    """The training step for ``network`` as ``optim_cfg`` says: its optimiser over the per-update LR array
    ``lr``, clipping, loss scale, and with ``accum_grad`` > 1 an :class:`AccumulatingTrainStep`."""
    step_type = AccumulatingTrainStep if int(optim_cfg.accum_grad) > 1 else TrainStep
    return step_type(NetWithLoss(network), build_optimizer(network, optim_cfg, lr), float(optim_cfg.max_grad_norm),
                     float(optim_cfg.loss_scale))


def _data_parallel() -> bool:
    return _get_parallel_mode() in (ParallelMode.DATA_PARALLEL, ParallelMode.HYBRID_PARALLEL)


def _global_norm(grads):
    return ops.sqrt(ops.addn([ops.square(g).sum() for g in grads]))


def _clip(grads, norm, max_grad_norm: float):
    scale = ops.minimum(max_grad_norm / (norm + 1e-6), 1.0)
    return tuple(g * scale for g in grads)


class TrainStep(nn.Cell):
    """(inputs...) -> (loss, gradient global norm); updates the parameters in place."""

    def __init__(self, loss_net: nn.Cell, optimizer: nn.Optimizer, max_grad_norm: float = 0.0,
                 loss_scale: float = 1.0):
        super().__init__(auto_prefix=False)
        self.loss_net = loss_net
        self.loss_net.set_grad()
        self.optimizer = optimizer
        self.weights = optimizer.parameters
        self.grad = ops.GradOperation(get_by_list=True, sens_param=True)
        self.max_grad_norm = float(max_grad_norm)
        self.loss_scale = float(loss_scale) if loss_scale and loss_scale > 0 else 1.0
        self.reducer = None
        if _data_parallel():
            self.reducer = nn.DistributedGradReducer(self.weights, _get_gradients_mean(), _get_device_num())
            # the reported loss is the global batch's, as one process with the whole batch would see it
            self.loss_sum = ops.AllReduce()
            self.device_num = float(_get_device_num())

    def gradients(self, *inputs):
        """(loss, gradients, their global norm) of one batch, averaged over the data-parallel ranks."""
        loss = self.loss_net(*inputs)
        sens = ops.fill(loss.dtype, loss.shape, self.loss_scale)
        grads = self.grad(self.loss_net, self.weights)(*inputs, sens)
        grads = tuple(g / self.loss_scale for g in grads)
        if self.reducer is not None:
            grads = self.reducer(grads)
            loss = self.loss_sum(loss) / self.device_num
        return loss, grads, _global_norm(grads)

    def construct(self, *inputs):
        loss, grads, norm = self.gradients(*inputs)
        if self.max_grad_norm > 0:
            grads = _clip(grads, norm, self.max_grad_norm)
        if ops.isfinite(norm) and ops.isfinite(loss):
            self.optimizer(grads)
        return loss, norm


class AccumulatingTrainStep(TrainStep):
    """(inputs...) -> (loss, this batch's gradient norm); adds its gradients to the ``accum.*`` buffers
    (a non-finite batch adds nothing). ``self.update(scale)`` applies ``scale x`` their sum.

    Calling ``update`` from the host keeps it a separate graph: one small graph for every batch shape,
    instead of an optimiser and its control flow inside each shape's training graph. With data
    parallelism the gradients are averaged over the ranks at every batch, as in :class:`TrainStep`, so
    every rank holds the same buffers and rank 0's checkpoint between two updates resumes them all exactly.
    """

    def __init__(self, loss_net: nn.Cell, optimizer: nn.Optimizer, max_grad_norm: float = 0.0,
                 loss_scale: float = 1.0):
        super().__init__(loss_net, optimizer, max_grad_norm, loss_scale)
        self.accum = self.weights.clone(prefix="accum", init="zeros")
        for buffer in self.accum:
            buffer.requires_grad = False
        self.add = ops.HyperMap()
        self.assign_add = ops.AssignAdd()
        self.update = ApplyAccumulated(optimizer, self.accum, max_grad_norm)

    def construct(self, *inputs):
        loss, grads, norm = self.gradients(*inputs)
        if ops.isfinite(norm) and ops.isfinite(loss):
            self.add(self.assign_add, self.accum, grads)
        return loss, norm


class ApplyAccumulated(nn.Cell):
    """scale -> gradient global norm: one optimiser update with ``scale x`` the accumulated gradients
    (clipped), then the buffers back to zero."""

    def __init__(self, optimizer: nn.Optimizer, accum, max_grad_norm: float = 0.0):
        super().__init__(auto_prefix=False)
        self.optimizer = optimizer
        self.accum = accum
        self.max_grad_norm = float(max_grad_norm)
        self.zero = ops.HyperMap()
        self.assign = ops.Assign()

    def construct(self, scale):
        grads = tuple(a * scale for a in self.accum)
        norm = _global_norm(grads)
        if self.max_grad_norm > 0:
            grads = _clip(grads, norm, self.max_grad_norm)
        if ops.isfinite(norm):
            self.optimizer(grads)
        self.zero(self.assign, self.accum, tuple(ops.zeros_like(a) for a in self.accum))
        return norm
