"""Outcome reply templates: English source strings marked for translation.

The referrer reads these in their language through flows.i18n catalogs (falling back to
English until a catalog has the string). Placeholders: {hub}, {phone}, {reference}.
"""

from __future__ import annotations

from flows.i18n import N_

HEADER = N_("Message from the {hub} about your reference {reference}:")
FOOTER = N_(
    "If a child is in danger now, call 999. You can phone the hub at any time, day or "
    "night, on {phone}."
)

BY_OUTCOME: dict[str, str] = {
    "information_and_advice_only": N_(
        "We have read what you sent and have given information and advice. We are not "
        "opening further work at the moment. If things change, contact us again."
    ),
    "internal_redirection_open_case": N_(
        "We have read what you sent. Your family already has a worker with us, so we have "
        "passed it to them and they will be in touch."
    ),
    "link_to_existing_early_help_episode": N_(
        "We have read what you sent and added it to the early help support your family "
        "already has. Your worker will be in touch."
    ),
    "progress_to_outside_la_ehcp_transfer": N_(
        "We have read what you sent. We are progressing the transfer of the Education, "
        "Health and Care Plan from the other council, and the SEND team will be in touch."
    ),
    "progress_to_send": N_(
        "We have read what you sent and passed it to our special educational needs and "
        "disabilities (SEND) team. They will be in touch."
    ),
    "refer_to_stronger_families": N_(
        "We have read what you sent and referred your family to Stronger Families for early "
        "help. A worker will contact you to talk about support."
    ),
    "send_to_childrens_centre_teams": N_(
        "We have read what you sent and passed it to the children's centre team for your "
        "area. They will contact you about support."
    ),
    "send_to_mash": N_(
        "We have read what you sent and passed it to our safeguarding team to look at "
        "straight away. A social worker may contact you."
    ),
    "send_to_statutory_social_care": N_(
        "We have read what you sent and passed it to children's social care. A social "
        "worker will contact you."
    ),
    "signpost_to_other_agency": N_(
        "We have read what you sent. Another service is best placed to help, and we will "
        "send you their details."
    ),
    "targeted_support_programmes": N_(
        "We have read what you sent and passed it to our targeted support programmes team. "
        "They will contact you about support."
    ),
}
