//! Label matching: the exact-match maps policies and the operator config use, and full
//! Kubernetes label selectors, which pool configs use.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::error::{Error, Result};

/// Labels of an object.
pub type Labels = BTreeMap<String, String>;

/// Whether every key of `selector` is on `labels` with exactly the same value (an empty
/// selector matches everything).
pub fn matches_exact(selector: &Labels, labels: &Labels) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Whether `labels` satisfy a label selector: every `matchLabels` pair and every
/// `matchExpressions` requirement (`In`, `NotIn`, `Exists`, `DoesNotExist`). An empty
/// selector matches everything. An unknown operator is an error naming it.
pub fn matches_selector(selector: &LabelSelector, labels: &Labels) -> Result<bool> {
    if let Some(match_labels) = &selector.match_labels
        && !matches_exact(match_labels, labels)
    {
        return Ok(false);
    }
    for requirement in selector.match_expressions.iter().flatten() {
        let value = labels.get(&requirement.key);
        let values = requirement.values.as_deref().unwrap_or_default();
        let ok = match requirement.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            other => {
                return Err(Error::LabelSelector {
                    key: requirement.key.clone(),
                    operator: other.to_owned(),
                });
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    fn requirement(key: &str, operator: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: operator.into(),
            values: Some(values.iter().map(|v| (*v).into()).collect()),
        }
    }

    #[test]
    fn exact_match_needs_every_key_with_the_same_value() {
        let node = labels(&[("a", "1"), ("b", "")]);
        assert!(matches_exact(&labels(&[]), &node));
        assert!(matches_exact(&labels(&[("b", "")]), &node));
        assert!(!matches_exact(&labels(&[("a", "2")]), &node));
        assert!(!matches_exact(&labels(&[("c", "")]), &node));
    }

    #[test]
    fn selectors_combine_labels_and_expressions() {
        let node = labels(&[("zone", "a"), ("sriov", "true")]);
        let selector = LabelSelector {
            match_labels: Some(labels(&[("sriov", "true")])),
            match_expressions: Some(vec![
                requirement("zone", "In", &["a", "b"]),
                requirement("rack", "NotIn", &["r1"]),
                requirement("gpu", "DoesNotExist", &[]),
                requirement("zone", "Exists", &[]),
            ]),
        };
        assert!(matches_selector(&selector, &node).unwrap());
        let other = labels(&[("zone", "c"), ("sriov", "true")]);
        assert!(!matches_selector(&selector, &other).unwrap());
        assert!(matches_selector(&LabelSelector::default(), &other).unwrap());
        let bad = LabelSelector {
            match_expressions: Some(vec![requirement("zone", "Equals", &["a"])]),
            ..Default::default()
        };
        assert_eq!(
            matches_selector(&bad, &node).unwrap_err().to_string(),
            "label selector on key zone: unknown operator \"Equals\" (want In, NotIn, Exists or DoesNotExist)"
        );
    }
}
