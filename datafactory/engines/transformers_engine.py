"""transformers `generate` for small models on CPU: a prompt's n samples are one batch.

Why per prompt: seeding torch before each prompt makes a (prompt_id, sample_index) reproducible no matter
which other prompts share its chunk.
"""

from __future__ import annotations

from datafactory.engines.base import Completion, Engine, EngineOptions, Request, Sampling
from datafactory.engines.local_model import resolve_model
from datafactory.errors import EngineError


class TransformersEngine(Engine):
    name = "transformers"

    def __init__(self, options: EngineOptions, seed: int = 0):
        super().__init__(options)
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = resolve_model(options.model)
        self.torch = torch
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            dtype = "auto" if options.dtype == "auto" else getattr(torch, options.dtype)
            self.model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(self.device).eval()
        except Exception as err:  # many loader errors; one line for the user
            raise EngineError(f"transformers could not load model {options.model!r}: {err}") from err
        eos = self.model.generation_config.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos]) - {None}
        if self.tokenizer.eos_token_id is not None:
            self.eos_ids.add(self.tokenizer.eos_token_id)
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else next(iter(self.eos_ids), 0)

    def generate(self, requests: list[Request], sampling: Sampling) -> list[list[Completion]]:
        results = []
        for request in requests:
            results.append(self._one(request, sampling))
            self._prompt_done()
        return results

    def _one(self, request: Request, sampling: Sampling) -> list[Completion]:
        torch = self.torch
        encoded = self.tokenizer.apply_chat_template(
            request.messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        input_ids = encoded["input_ids"].to(self.device)
        prompt_tokens = int(input_ids.shape[1])
        torch.manual_seed(request.seed)
        sample = sampling.temperature > 0
        with torch.no_grad():
            output = self.model.generate(
                input_ids=input_ids,
                attention_mask=encoded["attention_mask"].to(self.device),
                do_sample=sample,
                temperature=sampling.temperature if sample else None,
                top_p=sampling.top_p if sample else None,
                max_new_tokens=sampling.max_tokens,
                num_return_sequences=request.n,
                pad_token_id=self.pad_id,
            )
        completions = []
        for sequence in output[:, prompt_tokens:].tolist():
            tokens, finish = [], "length"
            for token in sequence:
                if token in self.eos_ids:
                    finish = "stop"
                    break
                tokens.append(token)
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            completions.append(Completion(text, finish, prompt_tokens, len(tokens) + (finish == "stop")))
        return completions
