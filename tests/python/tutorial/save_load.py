# MindSpore's "Save and Load" tutorial (mindspore.cn/tutorials/en/r2.6.0rc1/beginner/save_load.html),
# its code unchanged but for the imports: `mindspore` is cellar. Run by tests/python/test_tutorial.py
# and, against real MindSpore, by tests/fixtures/mindspore/2.10/make_tutorial_fixture.py.
import sys

import numpy as np

if len(sys.argv) > 1 and sys.argv[1] == "--mindspore":
    import mindspore
    from mindspore import nn
    from mindspore import Tensor
else:
    import cellar as mindspore
    from cellar import nn
    from cellar import Tensor


def network():
    model = nn.SequentialCell(
                nn.Flatten(),
                nn.Dense(28*28, 512),
                nn.ReLU(),
                nn.Dense(512, 512),
                nn.ReLU(),
                nn.Dense(512, 10))
    return model


model = network()
mindspore.save_checkpoint(model, "model.ckpt")

model = network()
param_dict = mindspore.load_checkpoint("model.ckpt")
param_not_load, _ = mindspore.load_param_into_net(model, param_dict)
print(param_not_load)

mindspore.set_context(mode=mindspore.GRAPH_MODE, jit_syntax_level=mindspore.STRICT)
model = network()
inputs = Tensor(np.ones([1, 1, 28, 28]).astype(np.float32))
mindspore.export(model, inputs, file_name="model", file_format="MINDIR")

graph = mindspore.load("model.mindir")
model = nn.GraphCell(graph)
outputs = model(inputs)
print(outputs.shape)
