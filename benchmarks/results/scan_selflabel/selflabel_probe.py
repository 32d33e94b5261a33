"""SCAN's head trained on frozen z (features mode, as reproduce.py does), then self-labelling through the
fine-tuned encoder, warm-started from that head (the paper fine-tunes the encoder inside SCAN).

Usage: python selflabel_probe.py CHECKPOINT SEED EPOCHS   (a reproduce.py quick checkpoint and the --seed of its run)
Environment: ENC_LR (encoder's Adam rate, default 1e-4), HEAD_LR (1e-3), STRENGTH (the nuisance deformation of
the strong view, applied to the canonical image inside the encoder, default 1), THR (confidence, 0.99), BS (256),
BN_EVAL=1 (keep the encoder's BatchNorm statistics frozen while fine-tuning).
Each epoch: for every batch, predictions on the images as they are (encoder and head in eval mode) whose top
probability exceeds THR become pseudo-labels; the head and encoder are trained with class-balanced cross-entropy
on the deformed view (the library's SCAN self-labelling step, with the pseudo-labels taken in eval mode). Prints the features-mode head's test
confusion matrix, then the test accuracy after every epoch.
"""
import functools
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/
from code_geometry import matched_confusion  # noqa: E402
from reproduce import SCAN_DEFAULTS, build_parser, load_data, resolve_settings, scores  # noqa: E402

from invariant_inr import IRLINR  # noqa: E402
from invariant_inr.augment import NuisanceAugment  # noqa: E402
from invariant_inr.cluster import SCAN  # noqa: E402
from invariant_inr.cluster._scan_loss import _self_label_loss  # noqa: E402
from invariant_inr.inference import encode_all  # noqa: E402

torch.set_num_threads(2)
path, seed, epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
enc_lr, head_lr = float(os.environ.get("ENC_LR", "1e-4")), float(os.environ.get("HEAD_LR", "1e-3"))
strength, threshold = float(os.environ.get("STRENGTH", "1.0")), float(os.environ.get("THR", "0.99"))
batch_size, bn_eval = int(os.environ.get("BS", "256")), os.environ.get("BN_EVAL", "0") == "1"
print(f"{path} seed {seed}: encoder lr {enc_lr:g}, head lr {head_lr:g}, strength {strength:g}, threshold {threshold:g}, "
      f"batch {batch_size}, BatchNorm {'frozen' if bn_eval else 'training'}", flush=True)
settings = resolve_settings(build_parser().parse_args(["quick", "--seed", str(seed)]))
train, test = load_data(settings)
model = IRLINR.load(path).eval()
start = time.perf_counter()
scan = SCAN(10, seed=0, **SCAN_DEFAULTS).fit(encode_all(model, train.images, batch_size=256).z)
predictions = scan.predict(encode_all(model, test.images, batch_size=256).z)
features_mode = scores(test.labels, predictions)
print(f"features mode (SCAN seed 0): test accuracy {100 * features_mode['accuracy']:.2f}, "
      f"NMI {features_mode['nmi']:.3f} ({time.perf_counter() - start:.1f} s)", flush=True)
print("its confusion matrix (rows: digit 0-9, columns: the cluster matched to it):", flush=True)
for digit, row in enumerate(matched_confusion(test.labels, predictions)):
    print(f"  {digit}: " + " ".join(f"{count:4d}" for count in row), flush=True)
head, head_index = scan.head_, scan.best_head_
deform, generator = NuisanceAugment(strength), torch.Generator().manual_seed(seed + 7)
optimizer = torch.optim.Adam([{"params": head.parameters(), "lr": head_lr},
                              {"params": model.encoder.parameters(), "lr": enc_lr}], weight_decay=1e-4)
n = train.images.shape[0]
for epoch in range(epochs):
    start, confident, loss_sum = time.perf_counter(), 0, 0.0
    for indices in torch.randperm(n, generator=generator)[: n - n % batch_size].split(batch_size):
        batch = train.images[indices]
        model.eval()
        head.eval()
        with torch.no_grad():
            top, targets = F.softmax(head(model.encoder(batch).z)[head_index], dim=-1).max(dim=-1)
        mask = top > threshold
        if not bool(mask.any()):
            continue
        confident += int(mask.sum())
        model.encoder.train(not bn_eval)
        head.train()
        logits = head(model.encoder(batch, functools.partial(deform, generator=generator)).z)[head_index]
        loss = _self_label_loss(logits[mask], targets[mask])  # the library's class-balanced cross-entropy
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += float(loss.detach()) * int(mask.sum())
    model.eval()
    head.eval()
    with torch.no_grad():
        result = scores(test.labels, head(encode_all(model, test.images, batch_size=256).z)[head_index].argmax(-1))
    print(f"epoch {epoch + 1}: confident {confident / n:.3f}, loss {loss_sum / max(confident, 1):.4f}, "
          f"test accuracy {100 * result['accuracy']:.2f}, NMI {result['nmi']:.3f} ({time.perf_counter() - start:.1f} s)", flush=True)
