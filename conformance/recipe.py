"""The VerifyCode recipe a target declares (capability ``verify_code``), and what the suites do with it.

A capability statement may say how the target computes its VerifyCode::

    [capabilities]
    verify_code = "hmac-sha256"                     # or a table, as in envelope.toml [verify_code]:
    # verify_code = { algorithm = "md5", inputs = ["NodeId", "RequestTime", "Key"], separator = "" }
    # verify_code = "none"                          # the target authenticates nothing

Without it the profile's own recipe is assumed.  The harness then signs every upload with the
declared recipe (:func:`target_profile`), so a real node or platform is certified with the recipe it
actually uses.  ``none``: uploads are still signed with the profile's recipe (the target ignores the
code), envelope parsing is judged as usual, and every test of message authentication fails with the
reason :func:`no_mac_reason` gives.  ``unknown`` cannot be declared by a target: the harness could not
sign for it (a :class:`~conformance.capabilities.CapabilityError`, exit 2).
"""

from __future__ import annotations

import copy

from profiles.signature import Recipe

from .capabilities import CapabilityError

KEY = "verify_code"


def declared(capabilities) -> Recipe | None:
    """The recipe the statement declares, ``None`` if it declares none; CapabilityError if malformed."""
    caps = getattr(capabilities, "capabilities", None) or {}
    if KEY not in caps:
        return None
    try:
        recipe = Recipe.from_data(caps[KEY])
    except (ValueError, TypeError) as exc:
        raise CapabilityError(
            f"能力声明中的 verify_code 无效：{exc}", f"capability verify_code is malformed: {exc}"
        ) from None
    if recipe.algorithm == "unknown":
        raise CapabilityError(
            "verify_code 不能声明为 unknown：请写明算法（或 none 表示不认证）",
            "verify_code cannot be declared unknown: state the recipe (or none for no authentication)",
        )
    return recipe


def target_profile(profile, capabilities):
    """``profile``, or a copy whose envelope signs with the target's declared recipe (the shared, cached
    profile object is never changed)."""
    recipe = declared(capabilities)
    if recipe is None or recipe.algorithm == "none" or recipe == profile.envelope.recipe:
        return profile
    derived = copy.copy(profile)
    derived.__dict__["envelope"] = profile.envelope.with_recipe(recipe)
    return derived


def no_mac_reason(capabilities) -> tuple[str, str] | None:
    """(zh, en) why message authentication fails for a target declaring ``verify_code = "none"``, else ``None``."""
    recipe = declared(capabilities)
    if recipe is None or recipe.algorithm != "none":
        return None
    return (
        '被测对象声明不做报文认证（verify_code = "none"）：任何人都能以任一节点的名义上传，'
        "安全要求不满足；报文解析等其余检查照常判定",
        'the target declares no message authentication (verify_code = "none"): anyone can upload in any '
        "node's name, so the security requirement is not met; envelope parsing and the other checks are "
        "judged as usual",
    )


def unverified_reason(run_profile, capabilities, builtin: bool) -> tuple[str, str] | None:
    """(zh, en) why the platform under test refuses no request for a wrong VerifyCode, else ``None``.

    Either the target declares ``verify_code = "none"`` (:func:`no_mac_reason`), or it is the built-in platform
    under a profile whose recipe is ``unknown`` (``run_profile``, the run's own profile, not the one the harness
    signs with): the reference platform verifies with its profile's recipe, so it checks the code's form, the
    clock window and replay, never the MAC (docs/dialects.md).  A test of message authentication fails with this
    reason (the requirement is not met); a test whose set-up merely needs a forged request refused cannot judge
    its own requirement (:class:`~conformance.notjudgeable.NotJudgeable`)."""
    why = no_mac_reason(capabilities)
    if why is not None or not builtin or run_profile.envelope.recipe.algorithm != "unknown":
        return why
    name = run_profile.name
    return (
        f"内置参考平台在配置 {name} 下不知道 VerifyCode 算法（unknown），只校验其格式、时钟窗口与重放，"
        "无法校验认证码：以错误密钥签名的请求会被接受，报文认证要求不满足",
        f"the built-in platform under profile {name} does not know the VerifyCode recipe (unknown): it checks the "
        "code's form, the clock window and replay, never the MAC, so a request signed with a wrong key is "
        "accepted and message authentication is not met",
    )


#: suites in which the harness (or the reference node it runs) signs uploads (coding: its simulated day)
SIGNING_SUITES = ("coding", "platform", "transmission")


def check_signable(profile, capabilities, suites, builtin: bool = False) -> None:
    """:class:`CapabilityError` (a setup problem, exit 2, never a verdict) when the run must sign uploads (a
    suite of :data:`SIGNING_SUITES`) but nobody can: the target declares no recipe and the profile's is
    ``unknown`` (a dialect whose VerifyCode algorithm was never seen, e.g. changchun).  Against the built-in
    target the reference node signs the coding and transmission suites' uploads with the profile's own recipe,
    so under ``unknown`` those suites are refused even with a declared one."""
    if profile.envelope.recipe.algorithm != "unknown" or not set(suites) & set(SIGNING_SUITES):
        return
    node_suites = sorted(set(suites) & {"coding", "transmission"})
    if builtin and node_suites:
        raise CapabilityError(
            f"配置 {profile.name} 的 VerifyCode 算法未知，参考节点无法为上传签名：内置目标下请只运行 platform、perception 套件"
            f"（并在能力声明中写明算法），不能运行 {', '.join(node_suites)}",
            f"profile {profile.name}'s VerifyCode recipe is unknown, so the reference node cannot sign its uploads: "
            f"against the built-in target run only the platform and perception suites (with the recipe declared in "
            f"the capability statement), not {', '.join(node_suites)}",
        )
    if declared(capabilities) is None:
        raise CapabilityError(
            f"配置 {profile.name} 的 VerifyCode 算法未知，测试工具无法为上传签名：请在能力声明中写明被测对象所用的算法"
            '（[capabilities] verify_code = "hmac-sha256" 等，见 docs/dialects.md），或只运行 perception 套件',
            f"profile {profile.name}'s VerifyCode recipe is unknown, so the harness cannot sign uploads: declare the "
            'recipe the target uses in the capability statement ([capabilities] verify_code = "hmac-sha256" or '
            "another, docs/dialects.md), or run only the perception suite",
        )
