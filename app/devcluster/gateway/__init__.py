"""The ingress gateway: routes by Host, splits traffic by the Route's percentages, answers as each revision."""
