"""A YOLOv8n-sized reference network (fused form: conv+bias+SiLU), for latency comparison only.

Same layer plan as Ultralytics' yolov8n.yaml at width 0.25 / depth 0.33 (C2f, SPPF, PAN,
decoupled DFL head), written here from its published structure; no weights, no training.
About 3.2 M params and 8.7 GFLOPs at 640 with 80 classes.
"""
import torch
import torch.nn as nn


class Conv(nn.Module):
    def __init__(self, ci, co, k=1, s=1):
        super().__init__()
        self.conv = nn.Conv2d(ci, co, k, s, k // 2, bias=True)
        self.act = nn.SiLU(inplace=True)

    def forward(self, x):
        return self.act(self.conv(x))


class Bottleneck(nn.Module):
    def __init__(self, c, shortcut=True):
        super().__init__()
        self.cv1, self.cv2, self.add = Conv(c, c, 3), Conv(c, c, 3), shortcut

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C2f(nn.Module):
    def __init__(self, ci, co, n=1, shortcut=False):
        super().__init__()
        self.c = co // 2
        self.cv1 = Conv(ci, 2 * self.c, 1)
        self.cv2 = Conv((2 + n) * self.c, co, 1)
        self.m = nn.ModuleList(Bottleneck(self.c, shortcut) for _ in range(n))

    def forward(self, x):
        y = list(self.cv1(x).chunk(2, 1))
        for m in self.m:
            y.append(m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class SPPF(nn.Module):
    def __init__(self, ci, co, k=5):
        super().__init__()
        h = ci // 2
        self.cv1, self.cv2 = Conv(ci, h, 1), Conv(h * 4, co, 1)
        self.m = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x):
        x = self.cv1(x)
        y1 = self.m(x)
        y2 = self.m(y1)
        return self.cv2(torch.cat([x, y1, y2, self.m(y2)], 1))


class YOLOv8nRef(nn.Module):
    def __init__(self, nc=80, reg_max=16):
        super().__init__()
        self.b0, self.b1 = Conv(3, 16, 3, 2), Conv(16, 32, 3, 2)
        self.b2, self.b3 = C2f(32, 32, 1, True), Conv(32, 64, 3, 2)
        self.b4, self.b5 = C2f(64, 64, 2, True), Conv(64, 128, 3, 2)
        self.b6, self.b7 = C2f(128, 128, 2, True), Conv(128, 256, 3, 2)
        self.b8, self.b9 = C2f(256, 256, 1, True), SPPF(256, 256)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.h12 = C2f(384, 128)
        self.h15 = C2f(192, 64)
        self.h16, self.h18 = Conv(64, 64, 3, 2), C2f(192, 128)
        self.h19, self.h21 = Conv(128, 128, 3, 2), C2f(384, 256)
        c2, c3 = 64, max(64, min(nc, 100))
        self.cv2 = nn.ModuleList(nn.Sequential(Conv(c, c2, 3), Conv(c2, c2, 3), nn.Conv2d(c2, 4 * reg_max, 1)) for c in (64, 128, 256))
        self.cv3 = nn.ModuleList(nn.Sequential(Conv(c, c3, 3), Conv(c3, c3, 3), nn.Conv2d(c3, nc, 1)) for c in (64, 128, 256))
        self.reg_max = reg_max

    def forward(self, x):
        x = self.b1(self.b0(x))
        p3 = self.b4(self.b3(self.b2(x)))
        p4 = self.b6(self.b5(p3))
        p5 = self.b9(self.b8(self.b7(p4)))
        h12 = self.h12(torch.cat([self.up(p5), p4], 1))
        h15 = self.h15(torch.cat([self.up(h12), p3], 1))
        h18 = self.h18(torch.cat([self.h16(h15), h12], 1))
        h21 = self.h21(torch.cat([self.h19(h18), p5], 1))
        outs = []
        for f, a, b in zip((h15, h18, h21), self.cv2, self.cv3):
            box = a(f).flatten(2)
            b_ = box.shape[0]
            box = box.view(b_, 4, self.reg_max, -1).softmax(2).mul(torch.arange(self.reg_max, dtype=f.dtype)[None, None, :, None]).sum(2)
            outs.append(torch.cat([box, b(f).flatten(2).sigmoid()], 1))
        return torch.cat(outs, 2)
