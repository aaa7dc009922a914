-- title: Trafic Web & Conversion

-- name: kpis
-- title: Indicateurs trafic
-- chart: cards
SELECT MEASURE(Nb_Sessions), MEASURE(Nb_Sessions_Achat), MEASURE(Taux_Conversion), MEASURE(Nb_Paniers_Abandonnes),
       MEASURE(Taux_Abandon_Panier), MEASURE(CA_Potentiel_Perdu)
FROM omnimarket;

-- name: entonnoir
-- title: Entonnoir sessions → paniers → achats
-- chart: funnel
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
-- title: Conversion par canal
-- chart: bar
SELECT Nom_Canal, MEASURE(Nb_Sessions), MEASURE(Nb_Sessions_Achat), MEASURE(Taux_Conversion), MEASURE(Taux_Abandon_Panier)
FROM omnimarket GROUP BY Nom_Canal;

-- name: mensuel
-- title: Sessions et conversion par mois
-- chart: line
SELECT Annee, Mois, MEASURE(Nb_Sessions), MEASURE(Taux_Conversion) FROM omnimarket GROUP BY Annee, Mois;
