"""The model registry: --model NAME -> a Spec (its generator/discriminator builder, whether it takes
a class or attributes, and the settings that shape it, with the release's values as defaults)."""
from collections import namedtuple

from . import attgan, cyclegan, mnist_gan, pix2pix, spade, stargan

Spec = namedtuple("Spec", "build conditional shape")
SHAPE_FLAGS = ("z_dim", "gf_dim", "df_dim", "gfc_dim", "dfc_dim", "num_downs", "n_blocks", "n_layers", "image_size",
               "c_dim", "spade_hidden")  # every setting that shapes a model

MODELS = {
    "CGAN": Spec(mnist_gan.cgan, True, {"z_dim": 100, "gf_dim": 128, "df_dim": 64}),
    "DCGAN": Spec(mnist_gan.dcgan, False,
                  {"z_dim": 100, "gf_dim": 64, "df_dim": 64, "gfc_dim": 2048, "dfc_dim": 1024}),
    "Pix2Pix": Spec(pix2pix.pix2pix, False, {"gf_dim": 64, "df_dim": 64, "num_downs": 8}),
    "CycleGAN": Spec(cyclegan.cyclegan, False, {"gf_dim": 64, "df_dim": 64, "n_blocks": 9}),
    # the attribute editors at the release's configuration (128x128 CelebA crops; c_dim = the attributes)
    "StarGAN": Spec(stargan.stargan, True, {"gf_dim": 64, "df_dim": 64, "n_blocks": 6, "n_layers": 6,
                                            "image_size": 128, "c_dim": 5}),
    "AttGAN": Spec(attgan.attgan, True, {"gf_dim": 64, "df_dim": 64, "dfc_dim": 1024, "n_layers": 5,
                                         "image_size": 128, "c_dim": 13}),
    "STGAN": Spec(attgan.stgan, True, {"gf_dim": 64, "df_dim": 64, "dfc_dim": 1024, "n_layers": 5,
                                       "image_size": 128, "c_dim": 13}),
    # the paper's Cityscapes configuration: 35 label classes (+ the instance edge map), ngf 64, 2 x 4-layer D
    "SPADE": Spec(spade.spade, False, {"gf_dim": 64, "df_dim": 64, "n_layers": 4, "c_dim": 35, "spade_hidden": 128,
                                       "image_size": 256}),
}
TRANSLATORS = {"Pix2Pix", "CycleGAN", "SPADE"}  # image in, image out: paired.py's data, translate.py's loop and metric
EDITORS = {"StarGAN", "AttGAN", "STGAN"}  # image + attributes in, edited image out: celeba.py's data, edit.py's loop
DIGIT_MODELS = sorted(set(MODELS) - TRANSLATORS - EDITORS)
NOT_DONE = []


def build_model(name, **shape):
    """(generator, discriminator) of model `name`; `shape` overrides the release's widths."""
    spec = MODELS[name]
    return spec.build(**{**spec.shape, **{k: v for k, v in shape.items() if k in spec.shape and v}})
