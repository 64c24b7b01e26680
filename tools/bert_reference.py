"""bert_reference.py — a PyTorch re-implementation of BERT (Devlin et al. 2019) with HuggingFace's
module and parameter names, written for cxrlab's parity tests (tools/goldens/bert.py) from the
published architecture; cxrlab's nn/models/bert.cpp must match it.

  embeddings: LayerNorm(word[ids] + position[0..L) + token_type[types]) -> dropout; word embedding
              with padding_idx = pad_token_id (that row gets no gradient), as pytorch-transformers
  layer:      post-LN; attention scores QK^T / sqrt(D) + (1 - mask) * -10000; softmax; dropout;
              FFN dense -> act -> dense; LayerNorm(x + dropout(sublayer(x)))
  pooler:     tanh(dense(h[:, 0]))
  MLM head:   cls.predictions: LayerNorm(act(dense(h))) @ E^T + bias, decoder tied to E
"""
import math

import torch
from torch import nn


def activation(name, x):
    if name == "gelu":
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    if name == "gelu_new":
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))
    if name == "relu":
        return torch.relu(x)
    if name == "tanh":
        return torch.tanh(x)
    raise ValueError(name)


class Config:
    def __init__(self, **kw):
        self.vocab_size = kw["vocab_size"]
        self.hidden_size = kw["hidden_size"]
        self.num_hidden_layers = kw["num_hidden_layers"]
        self.num_attention_heads = kw["num_attention_heads"]
        self.intermediate_size = kw["intermediate_size"]
        self.hidden_act = kw.get("hidden_act", "gelu")
        self.hidden_dropout_prob = kw.get("hidden_dropout_prob", 0.1)
        self.attention_probs_dropout_prob = kw.get("attention_probs_dropout_prob", 0.1)
        self.max_position_embeddings = kw.get("max_position_embeddings", 512)
        self.type_vocab_size = kw.get("type_vocab_size", 2)
        self.initializer_range = kw.get("initializer_range", 0.02)
        self.layer_norm_eps = kw.get("layer_norm_eps", 1e-12)
        self.pad_token_id = kw.get("pad_token_id", 0)


class BertEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size, padding_idx=c.pad_token_id)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.hidden_size)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)

    def forward(self, input_ids, token_type_ids):
        positions = torch.arange(input_ids.shape[1], dtype=torch.long)
        e = self.word_embeddings(input_ids) + self.position_embeddings(positions)[None] + \
            self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(e))


class BertSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.num_heads = c.num_attention_heads
        self.head_size = c.hidden_size // c.num_attention_heads
        self.query = nn.Linear(c.hidden_size, c.hidden_size)
        self.key = nn.Linear(c.hidden_size, c.hidden_size)
        self.value = nn.Linear(c.hidden_size, c.hidden_size)
        self.dropout = nn.Dropout(c.attention_probs_dropout_prob)

    def forward(self, h, additive_mask):
        B, L, _ = h.shape

        def heads(x):
            return x.view(B, L, self.num_heads, self.head_size).permute(0, 2, 1, 3)

        q, k, v = heads(self.query(h)), heads(self.key(h)), heads(self.value(h))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_size) + additive_mask
        probs = torch.softmax(scores, dim=-1)
        ctx = self.dropout(probs) @ v
        return ctx.permute(0, 2, 1, 3).reshape(B, L, -1), probs


class ResidualOutput(nn.Module):  # BertSelfOutput / BertOutput
    def __init__(self, c, inner):
        super().__init__()
        self.dense = nn.Linear(inner, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)

    def forward(self, x, residual):
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class BertAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = BertSelfAttention(c)
        self.output = ResidualOutput(c, c.hidden_size)

    def forward(self, h, mask):
        ctx, probs = self.self(h, mask)
        return self.output(ctx, h), probs


class BertIntermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.intermediate_size)
        self.act = c.hidden_act

    def forward(self, h):
        return activation(self.act, self.dense(h))


class BertLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = BertAttention(c)
        self.intermediate = BertIntermediate(c)
        self.output = ResidualOutput(c, c.intermediate_size)

    def forward(self, h, mask):
        a, probs = self.attention(h, mask)
        return self.output(self.intermediate(a), a), probs


class BertEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(c) for _ in range(c.num_hidden_layers)])


class BertPooler(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)

    def forward(self, h):
        return torch.tanh(self.dense(h[:, 0]))


class BertModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.config = c
        self.embeddings = BertEmbeddings(c)
        self.encoder = BertEncoder(c)
        self.pooler = BertPooler(c)

    def forward(self, input_ids, attention_mask, token_type_ids):
        additive = ((1.0 - attention_mask.to(torch.float32)) * -10000.0)[:, None, None, :]
        h = self.embeddings(input_ids, token_type_ids)
        attentions = []
        for layer in self.encoder.layer:
            h, probs = layer(h, additive)
            attentions.append(probs)
        return h, self.pooler(h), attentions


class BertPredictionHeadTransform(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.act = c.hidden_act

    def forward(self, h):
        return self.LayerNorm(activation(self.act, self.dense(h)))


class BertLMPredictionHead(nn.Module):
    def __init__(self, c, word_embeddings):
        super().__init__()
        self.transform = BertPredictionHeadTransform(c)
        self.decoder = nn.Linear(c.hidden_size, c.vocab_size, bias=False)
        self.decoder.weight = word_embeddings.weight  # tied
        self.bias = nn.Parameter(torch.zeros(c.vocab_size))

    def forward(self, h):
        return self.decoder(self.transform(h)) + self.bias


class BertOnlyMLMHead(nn.Module):
    def __init__(self, c, word_embeddings):
        super().__init__()
        self.predictions = BertLMPredictionHead(c, word_embeddings)


class BertForMaskedLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bert = BertModel(c)
        self.cls = BertOnlyMLMHead(c, self.bert.embeddings.word_embeddings)

    def forward(self, input_ids, attention_mask, token_type_ids, labels):
        h, pooled, attentions = self.bert(input_ids, attention_mask, token_type_ids)
        logits = self.cls.predictions(h)
        loss = nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1), ignore_index=-100)
        return loss, logits, h, pooled, attentions


def randomize(model, gen, scale=0.2):
    """Larger-than-default random weights (so every nonlinearity is exercised), LayerNorm weights
    around 1, every bias non-zero."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("LayerNorm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(scale * torch.randn(p.shape, generator=gen))
