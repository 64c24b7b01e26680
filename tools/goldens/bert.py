"""bert.py — parity fixtures for nn/models/bert.cpp from the PyTorch re-implementation in
tools/bert_reference.py, for a tiny configuration (tests/goldens/bert_tiny_config.json):

  param.<name>                 the weights (HF names; the tied decoder appears once, as the embeddings)
  in.input_ids / in.attention_mask / in.token_type_ids / in.labels   a padded batch of 3
  model.sequence_output, model.pooled_output, model.attention.<layer>  BertModel forward (eval)
  model.gout_sequence, model.gout_pooled   random upstream gradients; model.grad.<name> every
                                           parameter's gradient of sum(seq*g_seq) + sum(pooled*g_pooled)
  mlm.loss, mlm.logits, mlm.grad.<name>    BertForMaskedLM: loss over the labelled positions and
                                           every parameter's gradient (the tied embedding gets both paths)
Also writes tests/goldens/bert_checkpoint_hf.safetensors: the same weights as a HuggingFace-style
BertForPreTraining state dict as PyTorch's state_dict() names it (decoder weight duplicated, old-style
LayerNorm gamma/beta, an NSP head and a position_ids buffer), saved with torch.save as
pytorch_model.bin and converted by tools/convert_torch_checkpoint.py, as a real ClinicalBERT or
SciBERT checkpoint would be.
"""
import json
import os
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from bert_reference import BertForMaskedLM, Config, randomize  # noqa: E402
from convert_torch_checkpoint import convert  # noqa: E402

GOLDENS = os.path.join(HERE, "..", "..", "tests", "goldens")


def build(g):
    with open(os.path.join(GOLDENS, "bert_tiny_config.json")) as f:
        cfg = json.load(f)
    c = Config(**cfg)
    torch.manual_seed(0)
    model = BertForMaskedLM(c)
    randomize(model, g.gen)
    model.eval()  # no dropout: dropout masks are tested in C++ (Philox is not PyTorch's RNG)
    for name, p in model.named_parameters():  # named_parameters lists a tied weight once
        g.tensors[f"param.{name}"] = p.detach().clone()

    ids = torch.tensor([[2, 7, 12, 5, 33, 3, 0, 0, 0],
                        [2, 9, 4, 4, 18, 25, 39, 11, 3],
                        [2, 1, 3, 0, 0, 0, 0, 0, 0]])
    mask = (ids != 0).long()
    types = torch.tensor([[0, 0, 0, 0, 1, 1, 0, 0, 0],
                          [0, 0, 0, 0, 0, 1, 1, 1, 1],
                          [0, 0, 0, 0, 0, 0, 0, 0, 0]])
    labels = torch.full_like(ids, -100)
    labels[0, 2], labels[0, 4], labels[1, 1], labels[1, 6], labels[2, 1] = 14, 33, 9, 0, 21
    for k, v in dict(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=labels).items():
        g.tensors[f"in.{k}"] = v

    # BertModel forward and parameter gradients
    seq, pooled, attentions = model.bert(ids, mask, types)
    g.tensors["model.sequence_output"] = seq.detach()
    g.tensors["model.pooled_output"] = pooled.detach()
    for i, a in enumerate(attentions):
        g.tensors[f"model.attention.{i}"] = a.detach()
    gseq = torch.randn(seq.shape, generator=g.gen)
    gpool = torch.randn(pooled.shape, generator=g.gen)
    g.tensors["model.gout_sequence"], g.tensors["model.gout_pooled"] = gseq, gpool
    model.zero_grad()
    ((seq * gseq).sum() + (pooled * gpool).sum()).backward()
    for name, p in model.bert.named_parameters():
        g.tensors[f"model.grad.bert.{name}"] = p.grad.detach().clone()

    # masked LM
    model.zero_grad()
    loss, logits, _, _, _ = model(ids, mask, types, labels)
    loss.backward()
    g.tensors["mlm.loss"] = loss.detach().reshape(())
    sel = labels.view(-1) != -100
    g.tensors["mlm.logits"] = logits.detach().reshape(-1, c.vocab_size)[sel]
    for name, p in model.named_parameters():
        g.tensors[f"mlm.grad.{name}"] = p.grad.detach().clone()

    # the "converted" pretraining checkpoint
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}  # includes cls.predictions.decoder.weight
    for k in list(sd):
        if "LayerNorm.weight" in k:
            sd[k.replace("LayerNorm.weight", "LayerNorm.gamma")] = sd.pop(k)
        elif "LayerNorm.bias" in k:
            sd[k.replace("LayerNorm.bias", "LayerNorm.beta")] = sd.pop(k)
    sd["cls.seq_relationship.weight"] = torch.randn(2, c.hidden_size, generator=g.gen)
    sd["cls.seq_relationship.bias"] = torch.randn(2, generator=g.gen)
    sd["bert.embeddings.position_ids"] = torch.arange(c.max_position_embeddings)[None]
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "pytorch_model.bin")
        torch.save(sd, src)
        convert(src, os.path.join(GOLDENS, "bert_checkpoint_hf.safetensors"))
