/*---
title: "Trafic Web & Conversion"
slicers:
  - { attribute: Annee, label: Année }
  - { attribute: Mois, label: Mois }
  - { attribute: Nom_Canal, label: Canal }
  - { attribute: Code_Promo, label: Code promo }
  - { attribute: Categorie, label: Catégorie }
  - { attribute: Segment_RFM, label: Segment RFM }
visuals:
  - { name: kpis, title: Indicateurs trafic, chart: cards }
  - { name: entonnoir, title: Entonnoir sessions → paniers → achats, chart: funnel }
  - { name: par_canal, title: Conversion par canal, chart: bar }
  - { name: mensuel, title: Sessions et conversion par mois, chart: line }
---*/

-- name: kpis
SELECT MEASURE(Nb_Sessions), MEASURE(Nb_Sessions_Achat), MEASURE(Taux_Conversion), MEASURE(Nb_Paniers_Abandonnes),
       MEASURE(Taux_Abandon_Panier), MEASURE(CA_Potentiel_Perdu)
FROM omnimarket;

-- name: entonnoir
WITH f AS (
    SELECT MEASURE(Nb_Sessions) AS Nb_Sessions, MEASURE(Nb_Paniers_Abandonnes) AS Nb_Paniers_Abandonnes,
           MEASURE(Nb_Sessions_Achat) AS Nb_Sessions_Achat
    FROM omnimarket
)
SELECT Etape, Valeur FROM (
    SELECT 1 AS Ordre, 'Sessions' AS Etape, CAST(Nb_Sessions AS DOUBLE) AS Valeur FROM f
    UNION ALL SELECT 2, 'Paniers', CAST(COALESCE(Nb_Paniers_Abandonnes, 0) + COALESCE(Nb_Sessions_Achat, 0) AS DOUBLE) FROM f
    UNION ALL SELECT 3, 'Achats', CAST(Nb_Sessions_Achat AS DOUBLE) FROM f
) AS e
ORDER BY Ordre;

-- name: par_canal
SELECT Nom_Canal, MEASURE(Nb_Sessions), MEASURE(Nb_Sessions_Achat), MEASURE(Taux_Conversion), MEASURE(Taux_Abandon_Panier)
FROM omnimarket GROUP BY Nom_Canal;

-- name: mensuel
SELECT Annee, Mois, MEASURE(Nb_Sessions), MEASURE(Taux_Conversion) FROM omnimarket GROUP BY Annee, Mois;
