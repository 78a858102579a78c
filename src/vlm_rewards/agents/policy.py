"""The agent's feature extractor: a small CNN on the image, conditioned on the goal embedding.

With ``fusion="film"`` the goal embedding sets a per-channel scale and shift of the last
convolution's feature map (FiLM, Perez et al. 2018) before it is flattened, so the goal
decides *where* in the image the policy looks (which icon to tap); ``"film_all"`` does so
after every convolution, so the goal also steers the early, colour- and shape-level
detectors; ``"concat"`` only appends the goal features to the flattened image features.
All append the goal features.

Example:
    >>> import numpy as np
    >>> from gymnasium import spaces
    >>> space = spaces.Dict({"image": spaces.Box(0, 255, (3, 64, 64), np.uint8),
    ...                      "goal": spaces.Box(-1, 1, (16,), np.float32)})
    >>> extractor = GoalImageExtractor(space, features_dim=64)
    >>> extractor.features_dim
    128
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from gymnasium import spaces
from stable_baselines3.common.policies import MultiInputActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

# Branches whose contribution to the features starts at zero: an agent saved without one
# loads into a policy with it (``agent.init_from``) and acts exactly as before.
ZERO_START_BRANCHES = ("map_head", "map_gate")
# The search map's gate is this times its parameter: Adam moves a parameter by about the learning
# rate per update whatever its gradient, so a plain gate from 0 at 3e-4 had opened to |0.006| on
# average after 320 updates (20k House steps); with the gain it can open within a few hundred.
MAP_GATE_GAIN = 10.0

__all__ = ["ZERO_START_BRANCHES", "GoalImageExtractor", "PointerActionNet", "PointerExtractor", "PointerPolicy", "box_masks", "random_shift"]

# (kernel, stride, padding) per conv layer: the first downsamples 4x, the second 2x, the rest keep size.
_CONV_SHAPES = ((8, 4, 2), (4, 2, 1), (3, 1, 1), (3, 1, 1), (3, 1, 1))


def random_shift(images: torch.Tensor, pad: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each ``(C, H, W)`` image of the batch moved by its own random offset of up to ``pad`` pixels.

    The image is padded by ``pad`` pixels (edge pixels repeated, so no black border appears that
    the policy could key on) and cropped back to ``H x W`` at an offset drawn per image. Every
    channel of an image moves together, so stacked views stay aligned. The random-shift
    augmentation of DrQ (Kostrikov et al. 2020) and RAD (Laskin et al. 2020).
    """
    if pad < 0:
        raise ValueError(f"pad must be >= 0, got {pad}")
    if pad == 0 or images.shape[0] == 0:
        return images
    n, _, h, w = images.shape
    padded = nn.functional.pad(images, (pad, pad, pad, pad), mode="replicate")
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=images.device)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=images.device)
    rows = (dy[:, None] + torch.arange(h, device=images.device))[:, :, None]  # (n, h, 1)
    cols = (dx[:, None] + torch.arange(w, device=images.device))[:, None, :]  # (n, 1, w)
    batch = torch.arange(n, device=images.device)[:, None, None]
    # Advanced indexing on dims 0, 2, 3 puts the channel last: (n, h, w, C).
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


class GoalImageExtractor(BaseFeaturesExtractor):
    """Features of a ``{"image": (C, H, W) uint8, "goal": (D,) float}`` observation.

    ``C`` may hold several stacked views (``env.frame_stack``). Optional keys add branches:
    ``"region"`` (the VLM's similarity of each region with the goal's region prompt) and
    ``"patches"`` (the VLM's ``(D, h, w)`` patch embeddings, ``agent.vlm_patches``) and
    ``"prev_action"`` (the last action, one-hot, ``env.prev_action``; appended as it is) and
    ``"map"`` (House's :class:`~vlm_rewards.envs.house.memory.SearchMap`, ``env.search_map``;
    a small CNN whose output is added to the image features, starting at zero).

    Args:
        observation_space: the Dict space (images channel-first, as SB3 passes them).
        cnn_channels: output channels of each conv layer (at most 5).
        features_dim: width of the image features after the linear layer.
        goal_hidden: width of the goal MLP's output (appended to the features).
        fusion: ``"film"`` (last conv layer), ``"film_all"`` (every conv layer) or ``"concat"``.
        spatial_grid: ``[rows, cols]``: also output the goal-modulated feature map, reduced to
            ``spatial_channels`` maps and max-pooled to this grid (``None``: off).
        region_score: what ``obs["region"]`` holds (``agent.region_score``): "cosine"
            (scaled by a learned factor from 20) or "log_prob" (from 1).
        region_weight: that factor's starting value instead.
        augment_shift: in training mode (SB3's PPO updates; rollouts and evaluation run in eval
            mode) each image is moved by up to this many pixels (``random_shift``); 0: off.
    """

    def __init__(
        self,
        observation_space: spaces.Dict,
        cnn_channels: Sequence[int] = (32, 64, 64),
        features_dim: int = 256,
        goal_hidden: int = 64,
        fusion: str = "film",
        spatial_grid: Sequence[int] | None = None,
        spatial_channels: int = 4,
        region_score: str = "cosine",
        region_weight: float | None = None,
        augment_shift: int = 0,
    ):
        if not isinstance(observation_space, spaces.Dict) or {"image", "goal"} - set(observation_space.spaces):
            raise ValueError("observation_space must be a Dict with 'image' and 'goal' keys")
        if fusion not in ("film", "film_all", "concat"):
            raise ValueError(f"fusion must be 'film', 'film_all' or 'concat', got {fusion!r}")
        if not 1 <= len(cnn_channels) <= len(_CONV_SHAPES):
            raise ValueError(f"cnn_channels must have 1 to {len(_CONV_SHAPES)} entries, got {list(cnn_channels)}")
        grid = tuple(int(v) for v in spatial_grid) if spatial_grid else None
        if grid is not None and (len(grid) != 2 or min(grid) < 1):
            raise ValueError(f"spatial_grid must be [rows, cols] of positive ints, got {spatial_grid!r}")
        n_spatial = grid[0] * grid[1] * spatial_channels if grid else 0
        # obs["region"] (RegionSimilarityObservation): the VLM's similarity of the view, or of
        # each region, with the goal's region prompt; a feature the policy can ground a
        # held-out goal through.
        n_region = observation_space["region"].shape[0] if "region" in observation_space.spaces else 0
        # obs["patches"] (PatchFeatureObservation): the VLM's (D, h, w) patch embeddings.
        patch_shape = observation_space["patches"].shape if "patches" in observation_space.spaces else None
        if patch_shape is not None and len(patch_shape) != 3:
            raise ValueError(f"observation 'patches' must be (D, h, w), got shape {patch_shape}")
        # obs["prev_action"] (PreviousActionObservation): a one-hot, already on the features' scale.
        n_prev = observation_space["prev_action"].shape[0] if "prev_action" in observation_space.spaces else 0
        super().__init__(observation_space, features_dim + goal_hidden + n_spatial + (16 if n_region else 0)
                         + (features_dim if patch_shape else 0) + n_prev)
        self.has_prev_action = n_prev > 0
        if augment_shift < 0:
            raise ValueError(f"augment_shift must be >= 0, got {augment_shift}")
        self.augment_shift = int(augment_shift)
        image_shape = observation_space["image"].shape
        goal_dim = observation_space["goal"].shape[0]
        convs: list[nn.Module] = []
        in_ch = image_shape[0]
        for i, out_ch in enumerate(cnn_channels):
            k, s, p = _CONV_SHAPES[i]
            convs.append(nn.Conv2d(in_ch, out_ch, k, s, p))
            in_ch = out_ch
        self.convs = nn.ModuleList(convs)
        with torch.no_grad():
            x = torch.zeros(1, *image_shape)
            for conv in self.convs:
                x = conv(x)
            flat = x.numel()
        self.fusion = fusion
        self.goal_mlp = nn.Sequential(nn.Linear(goal_dim, goal_hidden), nn.ReLU())
        # FiLM of the last conv layer, zeroed here so that on its own the extractor starts with
        # FiLM as the identity (scale 1, shift 0); inside SB3's PPO (ortho_init) every Linear is
        # redrawn orthogonally, so the agents trained so far started with a random FiLM. Measured on
        # Phone: FiLM of every layer with goal inputs rescaled to unit variance learned slower
        # (training success 0.24 vs 0.39 after 40k steps).
        # (``film`` keeps its name so agents saved before ``film_all`` existed still load.)
        self.film = nn.Linear(goal_hidden, 2 * in_ch) if fusion in ("film", "film_all") else None
        early = range(len(cnn_channels) - 1) if fusion == "film_all" else []
        self.early_films = nn.ModuleList([nn.Linear(goal_hidden, 2 * cnn_channels[i]) for i in early])
        for film in [self.film, *self.early_films]:
            if film is not None:
                nn.init.zeros_(film.weight)
                nn.init.zeros_(film.bias)
        self.image_head = nn.Sequential(nn.Flatten(), nn.Linear(flat, features_dim), nn.ReLU())
        # The search map joins the image features additively, through a per-feature gate that
        # starts at zero (ReZero-style; a zeroed last layer would not stay zero: SB3 draws every
        # Linear and Conv2d of the extractor afresh, orthogonally, when it builds the policy).
        # The policy's input width does not change, so a map-less agent (the one-room level's)
        # is a valid start for a run with the map, and it starts out acting as that agent did.
        self.map_head = self.map_gate = None
        if "map" in observation_space.spaces:
            map_shape = observation_space["map"].shape
            if len(map_shape) != 3 or map_shape[1] < 2 or map_shape[2] < 2:
                raise ValueError(f"observation 'map' must be (C, H, W) with H, W >= 2, got shape {map_shape}")
            c, mh, mw = map_shape
            self.map_head = nn.Sequential(
                nn.Conv2d(c, 16, 3, 1, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(), nn.Flatten(),
                nn.Linear(32 * ((mh + 1) // 2) * ((mw + 1) // 2), features_dim),
            )
            self.map_gate = nn.Parameter(torch.zeros(features_dim))
        # Spatial features: goal-modulated detector maps max-pooled to a coarse grid, so a
        # detector learned at one place (an icon) is read out at every place (where to tap).
        self.spatial = (
            nn.Sequential(nn.Conv2d(in_ch, spatial_channels, 1), nn.AdaptiveMaxPool2d(grid), nn.Flatten())
            if grid
            else None
        )
        # Cosine similarities differ by ~0.1 between "in sight" and not: scaled by a CLIP-like
        # logit scale (learned, from 20) they reach the MLP at the size of a softmax logit.
        self.region = nn.Sequential(nn.Linear(n_region, 16), nn.ReLU()) if n_region else None
        # A log-probability is a logit already.
        if region_score not in ("cosine", "log_prob"):
            raise ValueError(f"region_score must be 'cosine' or 'log_prob', got {region_score!r}")
        start = region_weight if region_weight is not None else 20.0 if region_score == "cosine" else 1.0
        self.region_scale = nn.Parameter(torch.tensor(float(start))) if n_region else None
        # The patch branch: a 1x1 conv reads each patch embedding, FiLM-ed by the goal (which
        # of the VLM's concepts matter for this goal), beside the patch-goal similarity map
        # when the goal embedding lives in the same space (the goal is the VLM's own text
        # embedding), centred per view and scaled like a logit (learned, from 20).
        self.patch_conv = self.patch_film = self.patch_head = self.patch_scale = None
        if patch_shape is not None:
            d, ph, pw = patch_shape
            self.patch_sim = d == goal_dim
            self.patch_conv = nn.Conv2d(d, 32, 1)
            self.patch_film = nn.Linear(goal_hidden, 64)
            nn.init.zeros_(self.patch_film.weight)
            nn.init.zeros_(self.patch_film.bias)
            self.patch_scale = nn.Parameter(torch.tensor(20.0))
            self.patch_head = nn.Sequential(nn.Flatten(), nn.Linear((32 + int(self.patch_sim)) * ph * pw, features_dim), nn.ReLU())

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        h = observations["image"].float()
        if self.training and self.augment_shift:
            h = random_shift(h, self.augment_shift)
        g = self.goal_mlp(observations["goal"].float())
        films = [*self.early_films, self.film] if len(self.early_films) else [None] * (len(self.convs) - 1) + [self.film]
        for conv, film in zip(self.convs, films):
            h = conv(h)
            if film is not None:
                scale, shift = film(g).chunk(2, dim=1)
                h = h * (1.0 + scale[:, :, None, None]) + shift[:, :, None, None]
            h = torch.relu(h)
        image = self.image_head(h)
        if self.map_head is not None:
            image = image + MAP_GATE_GAIN * self.map_gate * self.map_head(observations["map"].float())
        parts = [image, g]
        if self.spatial is not None:
            parts.append(self.spatial(h))
        if self.region is not None:
            parts.append(self.region(observations["region"].float() * self.region_scale))
        if self.patch_conv is not None:
            parts.append(self._patch_features(observations["patches"].float(), observations["goal"].float(), g))
        if self.has_prev_action:
            parts.append(observations["prev_action"].float())
        return torch.cat(parts, dim=1)

    def _patch_features(self, patches: torch.Tensor, goal: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        scale, shift = self.patch_film(g).chunk(2, dim=1)
        h = torch.relu(self.patch_conv(patches) * (1.0 + scale[:, :, None, None]) + shift[:, :, None, None])
        if self.patch_sim:
            sim = torch.einsum("bdhw,bd->bhw", patches, goal)[:, None]
            flat = sim.flatten(1)
            sim = (sim - flat.mean(dim=1)[:, None, None, None]) * self.patch_scale
            h = torch.cat([h, sim], dim=1)
        return self.patch_head(h)


def box_masks(boxes: Sequence[Sequence[float]], height: int, width: int) -> torch.Tensor:
    """``(len(boxes), height, width)`` bool masks: the feature-map cells whose centre lies in
    each relative ``(x0, y0, x1, y1)`` box (the nearest cell when a box is smaller than one)."""
    if not boxes:
        raise ValueError("boxes must hold at least one (x0, y0, x1, y1) box")
    ys = (torch.arange(height, dtype=torch.float32) + 0.5) / height
    xs = (torch.arange(width, dtype=torch.float32) + 0.5) / width
    masks = []
    for i, box in enumerate(boxes):
        if len(box) != 4 or not (0.0 <= box[0] < box[2] <= 1.0 and 0.0 <= box[1] < box[3] <= 1.0):
            raise ValueError(f"boxes[{i}] must be relative (x0, y0, x1, y1) with 0 <= x0 < x1 <= 1, got {tuple(box)}")
        x0, y0, x1, y1 = box
        m = ((ys >= y0) & (ys < y1))[:, None] & ((xs >= x0) & (xs < x1))[None, :]
        if not m.any():
            m[min(int((y0 + y1) / 2 * height), height - 1), min(int((x0 + x1) / 2 * width), width - 1)] = True
        masks.append(m)
    return torch.stack(masks)


class PointerExtractor(BaseFeaturesExtractor):
    """A fully convolutional, goal-conditioned pointer: one logit per screen box.

    The goal embedding FiLMs every conv layer (so it steers what the network looks for
    from the first layer on); a 1x1 conv, the same detector at every place, turns the last
    map into a logit map, and each box's logit is the map's maximum inside that box.
    Recognising an icon anywhere is then one local detector, not a mapping to learn per
    cell. Output: ``[box logits (len(boxes)) | pooled image features | goal features]``;
    :class:`PointerPolicy` reads the box logits as the tap actions' logits.

    Args:
        observation_space: ``{"image": (C, H, W) uint8, "goal": (D,) float}``.
        boxes: relative ``(x0, y0, x1, y1)`` of each pointer action, in action order.
        cnn_channels: channels of the conv layers (strides 2, 2, then 1).
        features_dim: width of the pooled image features (value and non-pointer actions).
        goal_hidden: width of the goal MLP.
        region_score: what ``obs["region"]`` holds (``agent.region_score``): "cosine"
            similarities, standardised over the boxes and added with a weight from 3, or
            "log_prob" (log p(goal | region)), added as it is with a weight from 1.
        region_weight: the region term's starting weight instead (learned either way).
    """

    def __init__(
        self,
        observation_space: spaces.Dict,
        boxes: Sequence[Sequence[float]],
        cnn_channels: Sequence[int] = (32, 64, 64),
        features_dim: int = 128,
        goal_hidden: int = 64,
        region_score: str = "cosine",
        region_weight: float | None = None,
    ):
        if not isinstance(observation_space, spaces.Dict) or {"image", "goal"} - set(observation_space.spaces):
            raise ValueError("observation_space must be a Dict with 'image' and 'goal' keys")
        if not 1 <= len(cnn_channels) <= 5:
            raise ValueError(f"cnn_channels must have 1 to 5 entries, got {list(cnn_channels)}")
        n_boxes = len(boxes)
        super().__init__(observation_space, n_boxes + features_dim + goal_hidden)
        image_shape = observation_space["image"].shape
        goal_dim = observation_space["goal"].shape[0]
        self.n_boxes = n_boxes
        convs: list[nn.Module] = []
        in_ch = image_shape[0]
        for i, out_ch in enumerate(cnn_channels):
            stride = 2 if i < 2 else 1
            convs.append(nn.Conv2d(in_ch, out_ch, 3, stride, 1))
            in_ch = out_ch
        self.convs = nn.ModuleList(convs)
        self.goal_mlp = nn.Sequential(nn.Linear(goal_dim, goal_hidden), nn.ReLU())
        # With obs["region"] (RegionSimilarityObservation) the VLM says which region is the
        # goal's, and the conv net is not goal-conditioned: it learns what can be tapped and,
        # from the pooled features, when to swipe or go back. A goal-FiLMed detector beside the
        # region term learned the training apps so confidently that it overrode the VLM on
        # held-out apps: Phone held-out success fell from 95% at 20k steps to 43% at 60k while
        # training success rose to 100% (docs/results/agents/README.md).
        self.has_region = "region" in observation_space.spaces
        self.films = nn.ModuleList(
            nn.Linear(goal_hidden, 2 * c) for c in ([] if self.has_region else cnn_channels)
        )
        for film in self.films:  # start as the identity: scale 1, shift 0
            nn.init.zeros_(film.weight)
            nn.init.zeros_(film.bias)
        self.detector = nn.Conv2d(in_ch, 1, 1)
        nn.init.normal_(self.detector.weight, std=0.01)
        nn.init.zeros_(self.detector.bias)
        with torch.no_grad():
            x = torch.zeros(1, *image_shape)
            for conv in self.convs:
                x = conv(x)
        self.register_buffer("masks", box_masks(boxes, x.shape[2], x.shape[3]), persistent=False)
        # The region statistics (max, mean, spread of the raw similarities) tell the other
        # actions whether the goal's icon is on this screen at all (else: swipe, go back).
        self.pooled = nn.Sequential(nn.Linear(2 * in_ch + (3 if self.has_region else 0), features_dim), nn.ReLU())
        # The region similarities, standardised over the boxes of a frame, are added to the box
        # logits with a learned weight that starts at 3 (the VLM's best region is then ~e^6 more
        # likely than an average one), so the agent succeeds through the VLM from the start.
        # A log-probability needs no standardising: it is already a logit of "this box is the
        # goal's", low on every box when the goal's icon is not on the screen, so a swipe can
        # win; standardised cosines always single out some box (docs/results/agents/README.md).
        if region_score not in ("cosine", "log_prob"):
            raise ValueError(f"region_score must be 'cosine' or 'log_prob', got {region_score!r}")
        self.region_score = region_score
        self.region_weight = None
        if self.has_region:
            if observation_space["region"].shape != (n_boxes,):
                raise ValueError(f"observation 'region' must hold one value per box ({n_boxes}), "
                                 f"got shape {observation_space['region'].shape}")
            start = region_weight if region_weight is not None else 3.0 if region_score == "cosine" else 1.0
            self.region_weight = nn.Parameter(torch.tensor(float(start)))

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        h = observations["image"].float()
        g = self.goal_mlp(observations["goal"].float())
        for i, conv in enumerate(self.convs):
            h = conv(h)
            if self.films:
                scale, shift = self.films[i](g).chunk(2, dim=1)
                h = h * (1.0 + scale[:, :, None, None]) + shift[:, :, None, None]
            h = torch.relu(h)
        logit_map = self.detector(h)[:, 0]  # (B, H', W')
        # Max inside each box: -inf outside it, so a box is as likely as its best place.
        masked = logit_map[:, None].masked_fill(~self.masks[None], float("-inf"))
        box_logits = masked.flatten(2).amax(dim=2)
        stats = [h.mean(dim=(2, 3)), h.amax(dim=(2, 3))]
        if self.region_weight is not None:
            raw = observations["region"].float()
            spread = raw.std(dim=1, keepdim=True)
            if self.region_score == "cosine":
                box_logits = box_logits + self.region_weight * (raw - raw.mean(dim=1, keepdim=True)) / (spread + 1e-3)
            else:
                box_logits = box_logits + self.region_weight * raw
            stats.append(torch.cat([raw.amax(dim=1, keepdim=True), raw.mean(dim=1, keepdim=True), spread], dim=1))
        pooled = self.pooled(torch.cat(stats, dim=1))
        return torch.cat([box_logits, pooled, g], dim=1)


class PointerActionNet(nn.Module):
    """Action logits from :class:`PointerExtractor`'s features: the box logits as they are
    for the first ``n_boxes`` actions, a linear layer on the rest for the other actions."""

    def __init__(self, features_dim: int, n_boxes: int, n_actions: int):
        super().__init__()
        if not 0 < n_boxes <= n_actions:
            raise ValueError(f"n_boxes must be in [1, n_actions={n_actions}], got {n_boxes}")
        self.n_boxes = n_boxes
        self.other = nn.Linear(features_dim - n_boxes, n_actions - n_boxes) if n_actions > n_boxes else None
        if self.other is not None:
            nn.init.orthogonal_(self.other.weight, gain=0.01)
            nn.init.zeros_(self.other.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        boxes = features[:, : self.n_boxes]
        if self.other is None:
            return boxes
        return torch.cat([boxes, self.other(features[:, self.n_boxes :])], dim=1)


class PointerPolicy(MultiInputActorCriticPolicy):
    """SB3's multi-input actor-critic policy with :class:`PointerActionNet` as its action head.

    Use it with :class:`PointerExtractor` and no actor MLP (``net_arch=dict(pi=[], vf=[...])``):
    the actor reads the extractor's features directly, so the tap logits stay tied to the
    places on screen.
    """

    def _build(self, lr_schedule) -> None:
        super()._build(lr_schedule)
        n_actions = int(self.action_space.n)
        self.action_net = PointerActionNet(self.mlp_extractor.latent_dim_pi, self.features_extractor.n_boxes, n_actions)
        # SB3 built the optimizer over the old head: rebuild it over the new one.
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)
